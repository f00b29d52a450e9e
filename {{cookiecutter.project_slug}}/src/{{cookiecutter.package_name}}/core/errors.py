"""The failures a user fixes from the message alone: commands print them without a traceback."""


class UserError(Exception):
    """Bad data, a failed gate, a missing input: the message says what is wrong and what to do."""

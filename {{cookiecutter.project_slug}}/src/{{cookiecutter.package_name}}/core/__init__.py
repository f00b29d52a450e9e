"""The core that every stage shares: settings, the data contract, the model's exported form and
access to MLflow. It imports no stage: data, training, serving and monitoring import it."""

"""The models wing: where a model comes from and how it is loaded (handles), the verified model store, devices,
the model pair the gates see, and fan-out to Ray replicas."""

"""The runners wing: the only code that runs a model (engine, packing, generation), the result cache in front of
it, and the progress of long evaluations. It knows no task, gate or model source."""

"""Risk model and demand forecaster: not built yet."""

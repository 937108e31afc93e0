"""SimPy and array models: the synthetic world that feeds the twin, and (later) the scenario engine."""

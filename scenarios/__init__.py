"""What-if scenarios over the twin: specs (YAML), compiling them for the engine, the Monte Carlo
runner with its statistics, results and charts."""

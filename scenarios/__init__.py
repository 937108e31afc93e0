"""What-if scenarios over the twin (specs, Monte Carlo runner, comparison): not built yet."""

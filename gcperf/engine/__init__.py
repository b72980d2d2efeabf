"""The simulation: scenarios, the SimPy clock, the interpreter state a run advances, the tables
it produces."""

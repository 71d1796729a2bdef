"""Tables and charts from run records, simulated or measured alike."""

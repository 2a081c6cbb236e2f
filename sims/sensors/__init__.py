"""Sensor models, compiled: IMU, beam range/velocity sensors, star tracker, touchdown switches.

Each model is a plain ``@njit`` function of the truth state, its parameters, its own state
array and the run's random generator (a ``numpy.random.Generator``), so a run is reproducible
from its seed.
"""

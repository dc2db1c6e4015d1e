"""horsehuman-gui: teach a computer to tell kinds of pictures apart, without writing code."""

__version__ = "0.1.0"

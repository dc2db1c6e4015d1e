"""What can be done with the current model file besides classifying: export it for other
runtimes, save an HTML report about it, write a Python script that trains it again."""

"""Analyzers: generic, named analyses of the model that rules call through operators and derived attributes."""

"""The config's schema (a type, a range and a one-line description per key), its
validation at start-up, and the wrapper that turns the commands' user errors into one line."""

"""The commands' front door (:mod:`.command`: entry point, exit statuses) and what the
commands share beyond it (:mod:`.restore`: a finished run brought back)."""

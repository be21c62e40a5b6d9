"""What the service does, seen from outside: traces and log lines that lead to them."""

"""How tasks reach the workers: the broker's queues, a bound on deliveries, dead tasks."""

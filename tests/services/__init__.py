"""Real services for integration tests: mosquitto and influxd processes on loopback."""

"""Client libraries that speak this server's wire protocols (never import ``server``)."""

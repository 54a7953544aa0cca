"""Customer Success analytics: seasonality, seasonal baselines, health and alerts over usage."""

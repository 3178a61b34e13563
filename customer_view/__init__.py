"""The single view of one partner, as data and as an HTML fragment."""

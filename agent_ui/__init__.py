"""The agent workspace: sign-in, the pages agents work in, and live pushes to them."""

"""The demo harness `nmc demo` runs: every process in one place, the story played through
signed webhooks, a loopback Twilio stand-in, and the clean-up of what a run created."""

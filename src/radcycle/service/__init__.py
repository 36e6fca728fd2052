"""FastAPI app, auth, jobs, web review UI; calls pipeline and store, computes nothing itself."""

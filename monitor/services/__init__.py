"""The logic of the pipeline; views and tasks stay thin and call into these."""

"""pool: public pools (公海), owners' follow-up deadlines on Temporal, recycling (回收)."""

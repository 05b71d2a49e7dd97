"""Each run's log and its followers (ARCHITECTURE.md, "The run path").

A run has one append-only log of events numbered 1, 2, 3... The engine runs as a task of its
own and appends to the log (`RunJournal.append`), never waiting for a reader. The journal writes
what was appended in group commits (one transaction for every run with something new) and only
then publishes the events to the live tail (`tail.py`): no reader ever sees an event that is not
durable. Readers (`follow.py`) replay from the database, then read the tail, with no gap or
duplicate at the switch; one that falls behind the tail's bounded window reads the database
again.
"""

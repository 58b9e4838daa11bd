-- Nothing to undo: the index is 000051's, and 51's down drops it.
SELECT 1;

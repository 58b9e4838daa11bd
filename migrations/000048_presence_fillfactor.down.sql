ALTER TABLE presence RESET (fillfactor);

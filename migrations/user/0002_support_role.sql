-- Support staff: accounts made by an operator (`hail users add-support`),
-- never through register.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('rider', 'driver', 'support'));

//! Configuration: one shape, read from the editor, the workspace and the user's home.

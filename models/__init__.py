"""samcut's model layer: engine (runtime), document, store, and the build-time torch model/export."""

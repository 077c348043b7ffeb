//! Command-line faces: route, ask, models, config, review, stats, db.

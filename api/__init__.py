"""Entry points: the Litestar app with its GraphQL schema, and the `carelog` command line."""

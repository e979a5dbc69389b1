"""The GraphQL schema served at /graphql."""

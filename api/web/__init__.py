"""The web pages: server-rendered HTML shells, each driven by one small ES module that asks
`/graphql` (no build step). `api.web.pages` has the routes, `templates/` the shells and
`static/` the modules and the stylesheet."""

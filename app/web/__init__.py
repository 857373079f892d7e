"""The landing page: its static files (`app/web/static/`) and what serves them.

`site.build_site` reads the files once and answers from memory; the composition
root puts the result on `app.state.web`, and the plain-route table sends `/`,
`/favicon.ico` and `/static/*` to it.
"""

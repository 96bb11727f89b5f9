"""The HTTP API, in Crossbar's conventions: `/v2/...` paths, every answer in the same envelope,
`X-Auth-Token` authentication, PUT creates, POST replaces, PATCH merges, DELETE removes, lists
paged with `page_size` / `start_key` / `next_start_key`. `app.create_app` builds it from the
Services (one blueprint per resource); `controller api` serves it with gevent's WSGI server."""

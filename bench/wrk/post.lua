-- Submit a research task the way the published API's clients do: a form body.
wrk.method = "POST"
wrk.body = "query=What+caused+the+1973+oil+crisis%3F"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

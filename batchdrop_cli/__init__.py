"""`batchdrop`: the command line for people who run batchdrop. It talks to storage directly
(the job table for listing, showing, cancel and retry requests; blobs for uploads and
results), reusing the app's own code in shared/, never the HTTP API (which needs a function
key). Locally it uses Azurite's connection string; in Azure, the storage account's URL and
the person's Entra ID login (no keys). Never deployed, never imported by shared/."""

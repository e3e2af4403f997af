-- Every decoded field whose value differs from the golden host's (the host named by $golden; the
-- latest capture of each host), function by function at the same address, and functions one side
-- has and the other lacks (capability, register and field NULL).
-- Fields that legitimately differ between machines (BAR addresses, MSI message data, status bits)
-- are listed too: filter them in your own query, e.g. AND register NOT LIKE 'PCI_BASE_ADDRESS%'.
-- Rows are matched by `slot` (a hash of address, capability, reg_offset, register and field), so the
-- pass over every field row of every host compares two integers; the names come from the golden rows.
WITH lat AS MATERIALIZED (SELECT capture, host FROM latest),
golden AS MATERIALIZED (  -- the golden host's fields: a few thousand rows, the build side of the joins
    SELECT slot, address, capability, register, field, value
    FROM fields WHERE host = $golden AND capture IN (SELECT capture FROM lat)
),
-- rows whose (slot, value) the golden host does not have: differing values, and places golden lacks
-- (dropped by the join below); only the capture is carried, the names are the golden row's
changed AS MATERIALIZED (
    SELECT o.capture, o.slot, o.value
    FROM fields o ANTI JOIN golden g ON o.slot = g.slot AND o.value IS NOT DISTINCT FROM g.value
),
golden_fns AS (
    SELECT address FROM functions WHERE host = $golden AND capture IN (SELECT capture FROM lat)
),
other_fns AS (
    SELECT host, address FROM functions WHERE host <> $golden AND capture IN (SELECT capture FROM lat)
)
SELECT l.host, g.address, g.capability, g.register, g.field, g.value AS golden, c.value
FROM changed c JOIN golden g USING (slot) JOIN lat l USING (capture)
WHERE l.host <> $golden
UNION ALL  -- functions the golden host has and this host lacks
SELECT h.host, gf.address, NULL, NULL, NULL, NULL, NULL
FROM (SELECT DISTINCT host FROM other_fns) h CROSS JOIN golden_fns gf
WHERE NOT EXISTS (SELECT 1 FROM other_fns x WHERE x.host = h.host AND x.address = gf.address)
UNION ALL  -- functions this host has and the golden one lacks
SELECT x.host, x.address, NULL, NULL, NULL, NULL, NULL
FROM other_fns x WHERE x.address NOT IN (SELECT address FROM golden_fns)
ORDER BY 1, 2, 3, 4, 5

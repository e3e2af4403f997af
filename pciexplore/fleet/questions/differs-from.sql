-- Every decoded field whose value differs from the golden host's (the host named by $golden; the
-- latest capture of each host), function by function at the same address, and functions one side
-- has and the other lacks (capability, register and field NULL).
-- Fields that legitimately differ between machines (BAR addresses, MSI message data, status bits)
-- are listed too: filter them in your own query, e.g. AND register NOT LIKE 'PCI_BASE_ADDRESS%'.
WITH lat AS MATERIALIZED (SELECT capture, host FROM latest),
golden AS MATERIALIZED (  -- the golden host's fields: a few thousand rows, the build side of the join
    SELECT address, capability, reg_offset, register, coalesce(field, '') AS field, value
    FROM fields WHERE host = $golden AND capture IN (SELECT capture FROM lat)
),
-- the fields that differ, before the latest-capture filter: that filter is a look-up per row, cheaper over
-- the few rows left than over every row of every host (materialized, so it is not pushed down to the scan)
changed AS MATERIALIZED (
    SELECT o.capture, o.host, o.address, o.capability, o.register, o.field, g.value AS golden, o.value
    FROM fields o JOIN golden g ON o.reg_offset = g.reg_offset AND o.address = g.address
    WHERE o.host <> $golden AND o.value IS DISTINCT FROM g.value
      -- and the same field of the same register of the same capability:
      AND coalesce(o.field, '') = g.field AND o.register = g.register AND o.capability = g.capability
),
golden_fns AS (
    SELECT address FROM functions WHERE host = $golden AND capture IN (SELECT capture FROM lat)
),
other_fns AS (
    SELECT host, address FROM functions WHERE host <> $golden AND capture IN (SELECT capture FROM lat)
)
SELECT host, address, capability, register, field, golden, value
FROM changed WHERE capture IN (SELECT capture FROM lat)
UNION ALL  -- functions the golden host has and this host lacks
SELECT h.host, gf.address, NULL, NULL, NULL, NULL, NULL
FROM (SELECT DISTINCT host FROM other_fns) h CROSS JOIN golden_fns gf
WHERE NOT EXISTS (SELECT 1 FROM other_fns x WHERE x.host = h.host AND x.address = gf.address)
UNION ALL  -- functions this host has and the golden one lacks
SELECT x.host, x.address, NULL, NULL, NULL, NULL, NULL
FROM other_fns x WHERE x.address NOT IN (SELECT address FROM golden_fns)
ORDER BY 1, 2, 3, 4, 5

-- Functions whose driver enabled MSI-X, cleared the Function Mask, and still left some vectors
-- masked in the table (PCI_MSIX_ENTRY_CTRL_MASKBIT): those vectors' events only set pending bits.
-- Needs the MSI-X table, so captures only (a dump has config space alone).  Latest capture of each host.
SELECT host, address, f.vendor_id, f.device_id, f.device_name, f.driver, f.msix_size AS vectors,
       count(*) AS masked, list(vector ORDER BY vector) AS masked_vectors,
       count(*) FILTER (WHERE pending) AS pending
FROM msix_vectors v JOIN functions f USING (capture, host, address) JOIN latest USING (capture, host)
WHERE f.msix_enabled AND NOT f.msix_function_masked AND v.entry_masked
GROUP BY ALL
ORDER BY host, address

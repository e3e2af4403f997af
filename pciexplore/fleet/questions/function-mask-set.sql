-- MSI-X enabled with the Function Mask still set (PCI_MSIX_FLAGS_MASKALL): the function looks alive
-- in lspci but cannot send a single message; events only set bits in its Pending Bit Array.
-- A driver sets it around reprogramming the table and must clear it after.  Latest capture of each host.
SELECT host, address, vendor_id, device_id, device_name, driver, msix_size AS vectors
FROM functions JOIN latest USING (capture, host)
WHERE msix_enabled AND msix_function_masked
ORDER BY host, address

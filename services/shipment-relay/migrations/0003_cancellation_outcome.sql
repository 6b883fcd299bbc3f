-- The cancellation's outcome is published on shipment.confirmed; Amazon's ResultMessageCode goes with its
-- ResultDescription (`result`).
ALTER TABLE cancellations ADD COLUMN result_code text;

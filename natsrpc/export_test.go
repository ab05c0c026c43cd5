package natsrpc

// EndpointName is endpointName, for the tests.
var EndpointName = endpointName

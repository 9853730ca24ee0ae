module github.com/hanzoai/base/adapters/lambda/proxycompare

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/awslabs/aws-lambda-go-api-proxy v0.16.2
	github.com/hanzoai/base v0.0.0
)

replace github.com/hanzoai/base => ../../..

module github.com/escalator-oss/escalator

go 1.26.8

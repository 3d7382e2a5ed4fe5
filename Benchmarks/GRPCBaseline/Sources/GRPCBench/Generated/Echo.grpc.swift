// Written by hand to match what protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4) generates for
// echo.proto: the plugins are not available offline here. Keep it in step with echo.proto.
//
// swift-format-ignore-file
// swiftlint:disable all
//
// Source: echo.proto

import GRPCCore
import GRPCProtobuf

// MARK: - lector.bench.Echo

/// Namespace containing generated types for the "lector.bench.Echo" service.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
enum Lector_Bench_Echo: Sendable {
    /// Service descriptor for the "lector.bench.Echo" service.
    static let descriptor = GRPCCore.ServiceDescriptor(fullyQualifiedService: "lector.bench.Echo")
    /// Namespace for method metadata.
    enum Method: Sendable {
        /// Namespace for "Echo" metadata.
        enum Echo: Sendable {
            /// Request type for "Echo".
            typealias Input = Lector_Bench_EchoMessage
            /// Response type for "Echo".
            typealias Output = Lector_Bench_EchoMessage
            /// Descriptor for "Echo".
            static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "lector.bench.Echo"),
                method: "Echo",
                type: .unary
            )
        }
        /// Descriptors for all methods in the "lector.bench.Echo" service.
        static let descriptors: [GRPCCore.MethodDescriptor] = [
            Echo.descriptor
        ]
    }
}

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension GRPCCore.ServiceDescriptor {
    /// Service descriptor for the "lector.bench.Echo" service.
    static let lector_bench_Echo = GRPCCore.ServiceDescriptor(fullyQualifiedService: "lector.bench.Echo")
}

// MARK: lector.bench.Echo (server)

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo {
    /// Streaming variant of the service protocol for the "lector.bench.Echo" service.
    ///
    /// Each RPC is handled in terms of a request stream and a response stream; where only a single
    /// message is expected the implementation must enforce it. Prefer ``ServiceProtocol`` or
    /// ``SimpleServiceProtocol``.
    protocol StreamingServiceProtocol: GRPCCore.RegistrableRPCService {
        /// Handle the "Echo" method.
        func echo(
            request: GRPCCore.StreamingServerRequest<Lector_Bench_EchoMessage>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Lector_Bench_EchoMessage>
    }

    /// Service protocol for the "lector.bench.Echo" service: single messages, with access to
    /// request and response metadata.
    protocol ServiceProtocol: Lector_Bench_Echo.StreamingServiceProtocol {
        /// Handle the "Echo" method.
        func echo(
            request: GRPCCore.ServerRequest<Lector_Bench_EchoMessage>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Lector_Bench_EchoMessage>
    }

    /// Simple service protocol for the "lector.bench.Echo" service: messages in, messages out,
    /// no metadata.
    protocol SimpleServiceProtocol: Lector_Bench_Echo.ServiceProtocol {
        /// Handle the "Echo" method.
        func echo(
            request: Lector_Bench_EchoMessage,
            context: GRPCCore.ServerContext
        ) async throws -> Lector_Bench_EchoMessage
    }
}

// Default implementation of 'registerMethods(with:)'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo.StreamingServiceProtocol {
    func registerMethods<Transport>(with router: inout GRPCCore.RPCRouter<Transport>) where Transport: GRPCCore.ServerTransport {
        router.registerHandler(
            forMethod: Lector_Bench_Echo.Method.Echo.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Lector_Bench_EchoMessage>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Lector_Bench_EchoMessage>(),
            handler: { request, context in
                try await self.echo(
                    request: request,
                    context: context
                )
            }
        )
    }
}

// Default implementation of streaming methods from 'StreamingServiceProtocol'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo.ServiceProtocol {
    func echo(
        request: GRPCCore.StreamingServerRequest<Lector_Bench_EchoMessage>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Lector_Bench_EchoMessage> {
        let response = try await self.echo(
            request: GRPCCore.ServerRequest(stream: request),
            context: context
        )
        return GRPCCore.StreamingServerResponse(single: response)
    }
}

// Default implementation of methods from 'ServiceProtocol'.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo.SimpleServiceProtocol {
    func echo(
        request: GRPCCore.ServerRequest<Lector_Bench_EchoMessage>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Lector_Bench_EchoMessage> {
        return GRPCCore.ServerResponse<Lector_Bench_EchoMessage>(
            message: try await self.echo(
                request: request.message,
                context: context
            ),
            metadata: [:]
        )
    }
}

// MARK: lector.bench.Echo (client)

@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo {
    /// Generated client protocol for the "lector.bench.Echo" service.
    ///
    /// You don't need to implement this protocol directly, use the generated
    /// implementation, ``Client``.
    protocol ClientProtocol: Sendable {
        /// Call the "Echo" method.
        func echo<Result>(
            request: GRPCCore.ClientRequest<Lector_Bench_EchoMessage>,
            serializer: some GRPCCore.MessageSerializer<Lector_Bench_EchoMessage>,
            deserializer: some GRPCCore.MessageDeserializer<Lector_Bench_EchoMessage>,
            options: GRPCCore.CallOptions,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Lector_Bench_EchoMessage>) async throws -> Result
        ) async throws -> Result where Result: Sendable
    }

    /// Generated client for the "lector.bench.Echo" service, wrapping a `GRPCCore.GRPCClient`
    /// (which owns the long-lived connection to the server).
    struct Client<Transport>: ClientProtocol where Transport: GRPCCore.ClientTransport {
        private let client: GRPCCore.GRPCClient<Transport>

        /// Creates a new client wrapping the provided `GRPCCore.GRPCClient`.
        init(wrapping client: GRPCCore.GRPCClient<Transport>) {
            self.client = client
        }

        /// Call the "Echo" method.
        func echo<Result>(
            request: GRPCCore.ClientRequest<Lector_Bench_EchoMessage>,
            serializer: some GRPCCore.MessageSerializer<Lector_Bench_EchoMessage>,
            deserializer: some GRPCCore.MessageDeserializer<Lector_Bench_EchoMessage>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Lector_Bench_EchoMessage>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Lector_Bench_Echo.Method.Echo.descriptor,
                serializer: serializer,
                deserializer: deserializer,
                options: options,
                onResponse: handleResponse
            )
        }
    }
}

// Helpers providing default arguments to 'ClientProtocol' methods.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo.ClientProtocol {
    /// Call the "Echo" method with the protobuf serializer and deserializer.
    func echo<Result>(
        request: GRPCCore.ClientRequest<Lector_Bench_EchoMessage>,
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Lector_Bench_EchoMessage>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        try await self.echo(
            request: request,
            serializer: GRPCProtobuf.ProtobufSerializer<Lector_Bench_EchoMessage>(),
            deserializer: GRPCProtobuf.ProtobufDeserializer<Lector_Bench_EchoMessage>(),
            options: options,
            onResponse: handleResponse
        )
    }
}

// Helpers providing sugared APIs for 'ClientProtocol' methods.
@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
extension Lector_Bench_Echo.ClientProtocol {
    /// Call the "Echo" method with a message and optional metadata.
    func echo<Result>(
        _ message: Lector_Bench_EchoMessage,
        metadata: GRPCCore.Metadata = [:],
        options: GRPCCore.CallOptions = .defaults,
        onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Lector_Bench_EchoMessage>) async throws -> Result = { response in
            try response.message
        }
    ) async throws -> Result where Result: Sendable {
        let request = GRPCCore.ClientRequest<Lector_Bench_EchoMessage>(
            message: message,
            metadata: metadata
        )
        return try await self.echo(
            request: request,
            options: options,
            onResponse: handleResponse
        )
    }
}

// The service glue protoc-gen-grpc-swift-2 would generate for echo.proto, written by hand in the
// same shape (the generator is not available offline here): a method descriptor, a service that
// registers its handler, and a client call.

import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

typealias EchoMessage = Google_Protobuf_BytesValue

enum EchoService {
    static let descriptor = MethodDescriptor(fullyQualifiedService: "lector.bench.Echo", method: "Echo")
}

/// Answers every request with its own payload.
struct EchoServer: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: EchoService.descriptor,
            deserializer: ProtobufDeserializer<EchoMessage>(),
            serializer: ProtobufSerializer<EchoMessage>()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
    }
}

extension GRPCClient {
    /// One unary Echo call.
    func echo(_ message: EchoMessage) async throws -> EchoMessage {
        try await unary(
            request: ClientRequest(message: message), descriptor: EchoService.descriptor,
            serializer: ProtobufSerializer<EchoMessage>(), deserializer: ProtobufDeserializer<EchoMessage>(),
            options: .defaults
        ) { response in
            try response.message
        }
    }
}

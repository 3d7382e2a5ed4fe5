import ArgumentParser

@main
struct Lector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lector",
        abstract: "Turns PDF books into spoken audio on a cluster of Swift distributed actors.",
        subcommands: [
            DevCommand.self, GatewayCommand.self, CoordinatorCommand.self, WorkerCommand.self,
            CertsCommand.self, UploadCommand.self, StatusCommand.self, BooksCommand.self, NativeHelperCommand.self,
        ])
}

@main struct Lector { static func main() {} }

fn main() {
    println!("grow");
}
